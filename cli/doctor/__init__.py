"""`session-sync doctor`: a read-only check of a deployed (or local) pipeline, one module per area.

`report` holds the checklist, `expected` what production defines (from the same
sources production uses), `terraform` reads `terraform output -json` and the
variables' defaults, and `pubsub`, `tasks`, `bigquery`, `functions`, `secrets`,
`iam`, `local_stack` and `canary` each check one area.
"""
