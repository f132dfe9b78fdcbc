"""identity: who may sign in, at each dealer site and at headquarters, and the tokens every
other service checks."""
