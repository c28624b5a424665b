//! Decode each file given on the command line and print the re-encoded XML (the codec's view
//! of the message), or the error. A development aid: `cargo run -p iso20022 --example
//! roundtrip -- FILE...`. Must not be used by the switch (it reads files and prints).

fn main() {
    let limits = iso20022::Limits::default();
    let mut failed = false;
    for path in std::env::args().skip(1) {
        let result = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| iso20022::roundtrip(&bytes, &limits).map_err(|e| e.to_string()));
        match result {
            Ok(xml) => println!("{xml}"),
            Err(e) => {
                failed = true;
                eprintln!("ERR {path}: {e}");
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
