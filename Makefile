# Switchyard: `make build`, `make test`, `make run`, `make lint`.
# Everything goes to one target directory; plugins land in target/plugins.
# The first-party Rust plugins are also copied to target/builtin-plugins,
# which the host embeds (host/build.rs): so they are built first.

CARGO ?= cargo
WASM_TARGET := wasm32-wasip2
PLUGINS := default-router tier-router openai pii-redactor model-prices cost-margin anthropic gemini mock
TEST_PLUGINS := misbehave mock-override
WASM_OUT := target/$(WASM_TARGET)/plugin
BIN := target/release/switchyard
BUILTIN := target/builtin-plugins

# Every cargo command embeds the same plugins, so none of them rebuilds the
# host for another (the build script reruns when this or the folder changes).
export SWITCHYARD_BUILTIN_PLUGINS := $(CURDIR)/$(BUILTIN)

.PHONY: build host plugins builtin-plugins rust-plugins python-plugins test test-cases test-python run run-build lint setup clean-plugins

build: host plugins

# Built the way `cargo test --workspace` builds it, so the tests reuse every
# artifact (features unify across the workspace and its dev-dependencies;
# building the binary alone would compile wasmtime-wasi and friends twice).
host: builtin-plugins
	$(CARGO) test --release --workspace --no-run

plugins: rust-plugins python-plugins

# The first-party plugins the binary embeds (and target/plugins holds for
# the tests).
builtin-plugins:
	$(CARGO) build --profile plugin --target $(WASM_TARGET) $(addprefix -p ,$(PLUGINS))
	@mkdir -p target/plugins $(BUILTIN)
	@for p in $(PLUGINS); do cp $(WASM_OUT)/$$(echo $$p | tr - _).wasm target/plugins/$$p.wasm; done
	@# -p keeps the build's times: an unchanged plugin does not re-embed.
	@for p in $(PLUGINS); do cp -p $(WASM_OUT)/$$(echo $$p | tr - _).wasm $(BUILTIN)/$$p.wasm; done

rust-plugins: builtin-plugins
	$(CARGO) build --profile plugin --target $(WASM_TARGET) $(addprefix -p ,$(TEST_PLUGINS))
	@mkdir -p target/test-plugins
	@for p in $(TEST_PLUGINS); do cp $(WASM_OUT)/$$(echo $$p | tr - _).wasm target/test-plugins/$$p.wasm; done

python-plugins: target/plugins/prompt-guard.wasm target/test-plugins/noisy-py.wasm

target/plugins/prompt-guard.wasm: $(wildcard plugins/prompt-guard/*.py) $(wildcard wit/*.wit) plugins/prompt-guard/build.sh
	bash plugins/prompt-guard/build.sh $@

# A test-only Python sanitiser that prints and raises (plugin output tests).
target/test-plugins/noisy-py.wasm: tests/fixtures/noisy-py/app.py $(wildcard wit/*.wit)
	@mkdir -p target/test-plugins
	PYTHONDONTWRITEBYTECODE=1 componentize-py -d wit -w sanitizer-plugin componentize -p tests/fixtures/noisy-py app -o $@

# Installs what a fresh machine lacks (the wasm target, componentize-py, the
# Python test client). Idempotent.
setup:
	rustup target add $(WASM_TARGET)
	python3 -m pip install --quiet -r requirements-dev.txt

test: build
	$(CARGO) test --release --workspace
	$(MAKE) test-python test-cases

# Formatting and lints, as CI runs them before the tests (natively, and the
# plugins as the wasm they ship as).
lint: rust-plugins
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	$(CARGO) clippy --profile plugin --target $(WASM_TARGET) $(addprefix -p ,$(PLUGINS) $(TEST_PLUGINS)) -- -D warnings

# Every first-party plugin against its cases.yaml, through the real runtime.
test-cases:
	@for p in $(PLUGINS) prompt-guard; do \
		echo "== plugin test $$p"; \
		$(BIN) plugin test target/plugins/$$p.wasm plugins/$$p/cases.yaml || exit 1; \
	done

test-python:
	cd plugins/prompt-guard && python3 -m unittest -q

# Only what running needs: the built-in plugins and the binary.
run: run-build
	$(BIN) serve --config config/quickstart.yaml

run-build: builtin-plugins
	$(CARGO) build --release -p switchyard --bin switchyard

clean-plugins:
	rm -rf target/plugins target/test-plugins
