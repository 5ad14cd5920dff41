"""The grader's core, used by every verb: exercise specs (:mod:`.spec`), reading notebooks (:mod:`.notebook`),
the engine that runs checks through the sandbox and judges what comes back (:mod:`.engine`), the reports
(:mod:`.report`), a course and its version (:mod:`.course`), per-student hidden inputs (:mod:`.student_inputs`).
It imports only itself and :mod:`bnlab.grading.sandbox`, never a verb (check, grade, author) or the checks."""
