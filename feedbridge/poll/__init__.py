"""One poll and the loops around it: decide what is new, what a poll writes, leases, schedule."""
