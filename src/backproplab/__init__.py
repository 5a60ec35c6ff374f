"""backproplab: deep learning from first principles in NumPy, with course labs on real data."""
__version__ = "0.1.0"
