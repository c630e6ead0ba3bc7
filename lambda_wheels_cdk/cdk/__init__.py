"""The CDK shell: the only package that imports aws_cdk."""
