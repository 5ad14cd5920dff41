"""``bnlab grade`` and what follows it: a class's submissions (:mod:`.submissions`), the gradebook
(:mod:`.gradebook`), feedback pages (:mod:`.feedback_html`), Canvas and rosters (:mod:`.canvas`, :mod:`.roster`,
:mod:`.spreadsheet`), the Gradescope autograder (:mod:`.autograder`) and the grading key (:mod:`.grading_key`)."""
