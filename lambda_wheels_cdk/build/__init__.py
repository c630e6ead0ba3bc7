"""From an install to a bundle: the pipeline and its content-addressed cache, the file tree,
bytecode, slimming, the S3 remote cache, output folders and deterministic zips.

Pure: nothing here imports ``aws_cdk``, ``constructs`` or ``jsii``.
"""
