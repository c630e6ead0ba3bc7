"""The audit: every file of a bundle (folder or zip) judged against a target -- ELF arch and
glibc/libstdc++ symbol versions, wheel tags, links, bytecode and scripts -- without executing it.

Pure: nothing here imports ``aws_cdk``, ``constructs`` or ``jsii``.
"""
