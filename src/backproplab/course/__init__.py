"""The course: a map from every question of the five homework documents to what answers it,
with the errata of the documents' solutions (:mod:`.map`), and the ``backproplab course`` command."""
from .map import CourseSet, Erratum, MapError, Question, errata_of, load_map, question
