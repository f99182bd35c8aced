"""The benchmark scripts' shared harness: one place for what every script needs.

* :mod:`harness.paths` -- the repository, results, cache and shared-data folders;
* :mod:`harness.cli` -- the common command-line options (``--out``, ``--threads``);
* :mod:`harness.machine` -- where the numbers were measured and the command that made them;
* :mod:`harness.timing` -- median-of-repeats timing, per-stage timers, wall + CPU clocks;
* :mod:`harness.memory` -- resident memory of this process;
* :mod:`harness.child` -- one measurement in a fresh process;
* :mod:`harness.report` -- markdown tables and the JSON + markdown result files;
* :mod:`harness.runs` -- training experiments: one child per (variant, seed), reused when
  finished, aggregated as mean ± sd over seeds;
* :mod:`harness.road` -- ``predict``'s own road (``predict_source``) with a detector that
  counts and times its calls;
* :mod:`harness.scoring` -- PoseTrack prediction files and mAP by degradation severity;
* :mod:`harness.models` -- the small models and configurations several scripts build.

Scripts run as ``python benchmarks/NAME.py`` (their folder is then first on
``sys.path``), and pytest puts ``benchmarks/`` on the path for the scripts' own tests
(``benchmarks/test_*.py``), so ``import harness`` works in both. Nothing here imports
``tests/``, and ``tests/`` never imports this.
"""
