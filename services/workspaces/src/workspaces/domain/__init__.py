"""Pure rules of the workspaces service: no web, database or broker imports here."""
