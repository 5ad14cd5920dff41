"""What the learner's check and the instructor's grader share: exercise specs, reading notebooks, the
plain-data channel, the sandbox that runs learner code, the engine that judges it, the reports."""
