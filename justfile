# Developer shortcuts (`cargo install just`). The README's two commands need none of this.

# run the service on the embedded default
run *ARGS:
    cargo run --bin outbound -- {{ARGS}}

# every test (starts its own PostgreSQL)
test *ARGS:
    bash scripts/test.sh {{ARGS}}

# lints as CI would like them
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# all benchmarks (release build); rewrites docs/benchmarks.md
bench *ARGS:
    cargo build --release --bin outbound --bin outbound-bench
    target/release/outbound-bench {{ARGS}}

# fuzz the HTTP API with schemathesis against its OpenAPI document
fuzz-api *ARGS:
    bash scripts/fuzz-api.sh {{ARGS}}

# the platform simulator on its own
sim *ARGS:
    cargo run --bin outbound -- platform-sim {{ARGS}}

# the screenshots of docs/console.md, taken in headless chromium (needs a CJK font:
# apt-get install fonts-wqy-microhei)
screenshots:
    cargo build --bin outbound
    SCREENSHOTS_DIR="$PWD/docs/console" cargo nextest run -p e2e --test console --run-ignored only -E 'test(screenshots)'
