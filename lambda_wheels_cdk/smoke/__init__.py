"""Import tests: finding a CPython of the target's version (PATH, pyenv, uv, sysroots with qemu)
and importing a bundle's handler and packages with it.

Pure: nothing here imports ``aws_cdk``, ``constructs`` or ``jsii``.
"""
