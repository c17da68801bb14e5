"""pepita_lib: forward-only learning rules (PEPITA and its relatives) on real data.

The library behind the companion book to *Forward Learning with Top-Down Feedback*
(Srinivasan et al., ICLR 2024). Modules, one concern each:

- ``config``      frozen run configurations and their content hash
- ``data``        datasets as device tensors (npz mirror or torchvision)
- ``activations`` hidden non-linearities and their derivatives
- ``nets``        bias-free fully connected nets, init, dropout masks
- ``feedback``    fixed random feedback matrices (F, B_l)
- ``optim``       SGD with momentum, weight decay, step decay
- ``rules``       one file per learning rule behind one interface
- ``metrics``     accuracy, alignment angles, slowness
- ``train``       the training loop and run records
- ``store``       the results directory (atomic writes, tidy frames)
- ``experiments`` named grids of configs with profiles
- ``cost``        FLOPs, working memory and time of a step, per rule and depth
- ``cli``         the ``pepita`` command
"""

__version__ = "0.1.0"
