"""pepita_lib: forward-only learning rules (PEPITA and its relatives) on real data.

The library behind the companion book to *Forward Learning with Top-Down Feedback*
(Srinivasan et al., ICLR 2024), which extends PEPITA (Dellaferrera & Kreiman, ICML 2022).
Modules, one concern each:

Runs and their settings
- ``config``      frozen run configurations and their content hash (the run id)
- ``data``        datasets as device tensors (npz mirror or torchvision)
- ``provenance``  versions, commit, device and times of a run

Networks and learning rules
- ``activations`` hidden non-linearities and their derivatives
- ``nets``        bias-free fully connected nets, init, activation normalisation, dropout
- ``feedback``    fixed random feedback matrices (PEPITA's F, the B_l of FA/DFA/DRTP)
- ``optim``       SGD with momentum, weight decay, step decay
- ``rules``       one file per learning rule behind one interface (``rules/base.py``
                  also holds the alignment angles every rule reports)

Training
- ``build``       a run built from its configs: rule, net, state, optimiser, random streams
- ``train``       the training loop: start or resume, epochs, evaluation, the run record
- ``checkpoint``  saving and restoring a run's whole state at an epoch boundary
- ``divergence``  when a run has blown up or diverged (pure functions of its history)
- ``locks``       one process per run id (file locks)
- ``runner``      an experiment's missing runs into the store (seeds stacked, resumable)
- ``distributed`` the same as Ray tasks (optional)

Experiments and results
- ``experiments`` named grids of configs with profiles, one module per theme, one registry
- ``protocol``    how a compared cell's hyperparameter is chosen (successive halving)
- ``choice``      the value a registered search chose for one cell, from its stored runs
- ``store``       the results directory (atomic writes, tidy frames)
- ``report``      what chapters use: records as frames, missing-run notes, figure style
- ``metrics``     quantities computed from a run's history (slowness)
- ``analysis``    the analyses chapters show, computed from stored records
- ``references``  published numbers, each with its source
- ``scorecard``   every published number beside our stored runs
- ``theory``      teacher-student theory: Gaussian integrals, ODEs, simulations, runs

Costs and the command line
- ``cost``        FLOPs, working memory and time of a step, per rule and depth
- ``bench``       the speed of a PEPITA step against the machine's matmul peak
- ``cli``         the ``pepita`` command
"""

__version__ = "0.1.0"
