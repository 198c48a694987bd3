"""Deploying the templates: artifacts in S3, one change set per environment, review, execute.

Every function takes its boto3 clients as arguments (see `aws.Clients`), so the same code runs
against AWS or a local emulator, and tests can hand it stubbed clients.
"""
