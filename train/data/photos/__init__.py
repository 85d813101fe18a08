"""Real photographs from Debian packages: the source list, fetch, a compact pool, random crops."""
