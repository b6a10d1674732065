//! View queries. (Stub: replaced by the query work.)
