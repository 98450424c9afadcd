//! The p8sync extractor SDK: everything an extractor component needs besides its own parser.
//!
//! An extractor turns the bytes of one file into text (documents) or 16 kHz mono PCM (audio),
//! inside the host's sandbox (`wit/extractor/extractor.wit`, world `extractor-component`). Write
//! the parser as plain Rust over [`Input`] (`Read + Seek`) and a [`Sink`], implement [`Extract`],
//! and export it with [`export!`]:
//!
//! ```text
//! struct Epub;
//! impl p8sync_extractor_sdk::Extract for Epub {
//!     fn info() -> Info { /* id, formats, mime types, output kind, memory wish */ }
//!     fn extract(input: Input, request: &Request, sink: &mut dyn Sink) -> Result<Summary, ExtractError> {
//!         /* read `input`, call `sink.text(..)` until it returns false */
//!     }
//! }
//! p8sync_extractor_sdk::export!(Epub);
//! ```
//!
//! The component glue (the `wit-bindgen` bindings, [`export_extractor!`] and the host-backed
//! input and outputs in [`host`]) exists only when building for `wasm32`; natively the same
//! parser runs over a `Cursor` or a `File` and a [`Collector`], so it can be unit-tested and
//! benchmarked with plain `cargo test` / `cargo bench`.
//!
//! | item | what it gives an extractor |
//! | --- | --- |
//! | [`Info`], [`Request`], [`Limits`], [`Summary`], [`ExtractError`] | the contract's records as plain Rust |
//! | [`Input`] | the file: `Read + Seek`, [`Input::read_all`] for formats that need it whole |
//! | [`TextSink`], [`PcmSink`], [`Sink`] | where output goes; `false` means "the host has enough: stop and return `Ok`" |
//! | [`Tidy`], [`tidy`] | the text clean-up every document extractor's output goes through, streamed or whole |
//! | [`decode_text`] | bytes to text (UTF-8, UTF-16 with a BOM, else Windows-1252), refusing binary data |
//! | [`Collector`] | a native sink with the host's caps, for tests and benchmarks |
//! | [`Budget`], [`BudgetReader`] | the `max-decompressed-bytes` budget shared by every compressed stream of a file |
//! | [`log`] | log lines (the host tags them with the extractor and the file); [`log::stage`]: where the extractor is, for the host's messages when a cap stops it |
//! | [`host`] (wasm32 only) | the host-backed [`host::HostReader`], [`host::TextOut`], [`host::PcmOut`] |

pub mod alloc;
mod budget;
mod decode;
mod input;
pub mod log;
mod sink;
mod tidy;
mod types;

#[cfg(target_arch = "wasm32")]
pub mod host;

/// The components' allocator (the `size-classes` feature; see [`alloc`] for why).
#[cfg(all(
    target_arch = "wasm32",
    not(target_feature = "atomics"),
    feature = "size-classes"
))]
#[global_allocator]
static ALLOCATOR: alloc::SizeClasses<std::alloc::System> =
    alloc::SizeClasses::new(std::alloc::System);

pub use budget::{Budget, BudgetReader, mib};
pub use decode::decode_text;
pub use input::{Input, Source};
pub use sink::{Collector, PcmSink, Sink, TextSink};
pub use tidy::{Tidy, tidy};
pub use types::{ExtractError, Info, Limits, OutputKind, Request, Summary};

#[cfg(target_arch = "wasm32")]
wit_bindgen::generate!({
    path: "../../wit/extractor",
    world: "extractor-component",
    pub_export_macro: true,
    export_macro_name: "export_extractor",
    default_bindings_module: "p8sync_extractor_sdk",
});

/// The wit-level trait of the `p8:extractor/extractor` export, for extractors that want the raw
/// bindings; [`Extract`] + [`export!`] is the easier way.
#[cfg(target_arch = "wasm32")]
pub use exports::p8::extractor::extractor::Guest as Extractor;

/// Samples per second of the PCM an audio extractor emits (mono, signed 16-bit).
pub const SAMPLE_RATE: u32 = 16_000;

/// What an extractor implements: plain Rust, no wit types, so it runs natively in tests.
pub trait Extract {
    /// Describe the extractor (called once when the host loads it).
    fn info() -> Info;

    /// Extract one file. Emit the output through `sink` as it goes; when `sink` returns false
    /// the host has all it keeps: stop and return `Ok`. Enforce
    /// `request.limits.max_decompressed_bytes` with a [`Budget`].
    fn extract(
        input: Input,
        request: &Request,
        sink: &mut dyn Sink,
    ) -> Result<Summary, ExtractError>;
}

/// Exports a type implementing [`Extract`] as the component's `p8:extractor/extractor`.
///
/// Expands to nothing unless the target is `wasm32`, so the crate still builds natively.
#[macro_export]
macro_rules! export {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __P8syncExtractorGlue;
            impl $crate::Extractor for __P8syncExtractorGlue {
                fn info() -> $crate::host::WitInfo {
                    $crate::host::info::<$ty>()
                }
                fn extract(input: $crate::host::WitInput) -> $crate::host::WitResult {
                    $crate::host::extract::<$ty>(input)
                }
            }
            $crate::export_extractor! { __P8syncExtractorGlue with_types_in $crate }
        };
    };
}
