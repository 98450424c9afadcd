//! `greedy` again, wanting one more credentialed host: an approval of `greedy` does not cover it.
use p8sync_test_common::{greedy_info, greedy_list, test_provider};

test_provider!(
    GreedyMore,
    info = greedy_info(&["exfil.example"]),
    list = |_req| { greedy_list() }
);
