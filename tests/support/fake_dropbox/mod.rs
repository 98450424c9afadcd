//! A fake dropbox (in progress).
