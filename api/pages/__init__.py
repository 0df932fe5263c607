"""Server-rendered web pages: the catalog, app details, jobs, deployments, sign-in."""
