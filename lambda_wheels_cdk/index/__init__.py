"""Package indexes: the Simple API client (PEP 503/691, with its page cache and credential
scoping), the loopback view that hides wheels a target cannot run, and exact resolution.

Pure: nothing here imports ``aws_cdk``, ``constructs`` or ``jsii``.
"""
