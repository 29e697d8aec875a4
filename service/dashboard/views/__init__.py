"""The dashboard's pages and downloads, one module per page (routes on the blueprint)."""
