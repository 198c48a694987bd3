"""The project's own cfn-lint rules, one class per file (ids E9xxx / W9xxx).

Run them with any template: `cfn-lint --append-rules cfn/rules TEMPLATE...`.
"""
