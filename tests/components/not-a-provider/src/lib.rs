//! A valid component that exports something other than `p8:provider/provider`.
wit_bindgen::generate!({
    inline: "
        package acme:tools@1.0.0;
        interface greet { hello: func() -> string; }
        world tool { export greet; }
    ",
});

struct Tool;

impl exports::acme::tools::greet::Guest for Tool {
    fn hello() -> String {
        "hello".into()
    }
}

export!(Tool);
