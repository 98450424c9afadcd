//! A fake onedrive (in progress).
