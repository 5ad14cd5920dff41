"""Where learner code runs: the grader's side (:mod:`.client`: ``run_learner``, ``jail_session``), its limits
and environment (:mod:`.policy`), temporary folders (:mod:`.files`), the bubblewrap jail (:mod:`.jail`), and
the learner's side (:mod:`.server`, :mod:`.worker`, :mod:`.plain`), which the jail stages by path and which
import only the standard library and numpy. Nothing here imports the rest of the grader."""
