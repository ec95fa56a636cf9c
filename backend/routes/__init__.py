"""One blueprint per area: parse the request, call a service, render or serialise."""
