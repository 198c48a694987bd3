"""InsightXI platform infrastructure: CloudFormation templates built with troposphere and awacs."""
