//! Decode each file given on the command line and print the re-encoded XML (the codec's view
//! of the message), or the error. A development aid: `cargo run -p iso20022 --example
//! roundtrip -- FILE...`. Must not be used by the switch (it reads files and prints).

fn main() {
    let limits = iso20022::Limits::default();
    let mut failed = false;
    for path in std::env::args().skip(1) {
        match std::fs::read(&path) {
            Ok(bytes) => match iso20022::decode(&bytes, &limits) {
                Ok(msg) => println!("{}", iso20022::encode(&msg)),
                Err(_) => match iso20022::envelope::decode(&bytes, &limits) {
                    Ok(env) => println!("{}", iso20022::envelope::encode(&env)),
                    Err(e) => {
                        failed = true;
                        eprintln!("ERR {path}: {e}");
                    }
                },
            },
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
