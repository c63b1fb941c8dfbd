"""The machinery of a run, which ``cli.py`` uses: checkpoint IO and callbacks, the safety
check for ``--ckpt_path``, the prediction writer, figures at fit end, the divergence report;
and how a run starts (``start.py``), which the notebooks call too.

No module under ``lessons/`` or ``datamodules/`` imports it: a lesson is what a student reads.
"""
