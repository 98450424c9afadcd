//! Wants its own server credentialed and its own OAuth endpoints: loads only once approved.
use p8sync_test_common::{greedy_info, greedy_list, test_provider};

test_provider!(
    Greedy,
    info = greedy_info(&[]),
    list = |_req| { greedy_list() }
);
