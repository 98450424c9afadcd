//! Exports `p8:provider/provider@9.0.0`: a future major version no host supports yet.
wit_bindgen::generate!({
    inline: "
        package p8:provider@9.0.0;
        interface provider { info: func() -> string; }
        world later { export provider; }
    ",
});

struct Future;

impl exports::p8::provider::provider::Guest for Future {
    fn info() -> String {
        "from the future".into()
    }
}

export!(Future);
