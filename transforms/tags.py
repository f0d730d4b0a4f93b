"""Names of the side outputs every stage may emit."""

DEAD_LETTER = "dead_letter"  # something failed: bad input, teacher error
DROPPED = "dropped"  # a stage decided against the row: duplicate, no correct chain
READ_COUNTS = "read_counts"  # rows read per source file, for the accounting identity
