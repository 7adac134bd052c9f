"""Networks of GIB and CLIB: encoders, fusion, clustering heads, granular balls."""
