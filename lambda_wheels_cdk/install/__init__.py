"""Installing for a target: the uv and pip runs, the child environment stripped of host
config, native sdists (locally or in Docker), and sweeping what killed builds left behind.

Pure: nothing here imports ``aws_cdk``, ``constructs`` or ``jsii``.
"""
