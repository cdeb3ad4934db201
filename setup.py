"""Build the Cython core: every ext/NAME.pyx becomes the module analyzer._NAME.

DUALSTACK_CYTHON_ANNOTATE=1 writes ext/NAME.html (check the hot loop is free of
Python calls); DUALSTACK_CYTHON_DEBUG=1 builds with bounds checks and line tracing.
"""

import os
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("DUALSTACK_CYTHON_DEBUG") == "1"
ANNOTATE = os.environ.get("DUALSTACK_CYTHON_ANNOTATE") == "1"

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "embedsignature": True,
    "linetrace": DEBUG,
}
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
if DEBUG:
    macros.append(("CYTHON_TRACE_NOGIL", "1"))

# -O3, and GCC allowed to inline the per-packet functions that two callers share (the
# reader's decode_row, the flow table's flow_packet): measured in benchmarks/README.md
OPTIMIZE = ["-O3", "--param=max-inline-insns-single=1000"]

extensions = [
    Extension(
        f"analyzer._{pyx.stem}",
        [str(pyx)],
        include_dirs=[numpy.get_include(), "ext"],
        define_macros=macros,
        extra_compile_args=["-O0", "-g"] if DEBUG else OPTIMIZE,
    )
    for pyx in sorted(Path("ext").glob("*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        annotate=ANNOTATE,
        include_path=["ext"],
    ),
)
