"""Teacher-student theory of PEPITA: Gaussian integrals, ODEs and online-SGD simulations.

The setting (Saad & Solla 1995; Goldt et al. 2019; Refinetti et al. 2021): inputs
``x ~ N(0, I_N)``, one fresh sample per step, time ``alpha = steps / N``; a two-layer
teacher and student with ``g(z) = erf(z / sqrt 2)``; generalisation error
``eps_g = 0.5 E[(y - yhat)^2]``. Modules, one concern each:

- ``integrals``  ``g``, ``g'``, the Gaussian averages I2, I3, I4, ``eps_g``, a Monte Carlo check
- ``ode``        order parameters, each rule's feedback ``b_k``, the ODEs and their integration
- ``simulation`` the teacher-student pair and online SGD of BP, DFA, AFA and exact PEPITA
- ``runs``       :class:`TheoryConfig`, one run as a record, the chapter's grid
- ``cli``        the ``pepita theory`` subcommand (flags from the config's fields)

The runs are the experiment ``theory`` of :mod:`pepita_lib.experiments`, stored in
``results/theory/<run id>.json`` by :mod:`pepita_lib.store`.
"""

from .integrals import I2, I3, I4, eps_g, g, g_prime, gaussian_mc, gaussian_tables
from .ode import RULES, OrderParams, feedback, integrate_ode, ode_convergence, ode_rhs
from .runs import EXPERIMENT, TheoryConfig, alpha_grid, rngs, run_theory, theory_grid
from .simulation import TeacherStudent, init_teacher_student, order_params, simulate

__all__ = [
    "EXPERIMENT",
    "I2",
    "I3",
    "I4",
    "RULES",
    "OrderParams",
    "TeacherStudent",
    "TheoryConfig",
    "alpha_grid",
    "eps_g",
    "feedback",
    "g",
    "g_prime",
    "gaussian_mc",
    "gaussian_tables",
    "init_teacher_student",
    "integrate_ode",
    "ode_convergence",
    "ode_rhs",
    "order_params",
    "rngs",
    "run_theory",
    "simulate",
    "theory_grid",
]
