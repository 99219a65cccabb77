//! `bordin score`: streaming batch scoring of CSV answers (to be written).
