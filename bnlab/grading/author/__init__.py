"""What an instructor uses to write and ship the course: stubs from the source notebooks (:mod:`.authoring`),
mutants (:mod:`.mutants`), the student release and the Gradescope bundle (:mod:`.bundles`), the similarity
report (:mod:`.similarity`), synthetic and demo classes (:mod:`.sample_class`, :mod:`.demo_class`) and the
grading benchmark (:mod:`.bench`). It may use :mod:`bnlab.grading.grade`; grade never imports author."""
