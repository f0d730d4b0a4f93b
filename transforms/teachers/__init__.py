"""Teacher backends behind one interface, the response cache, and prompt building."""
