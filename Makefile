# Switchyard: `make build`, `make test`, `make run`, `make lint`.
# Everything goes to one target directory; plugins land in target/plugins.
# The first-party Rust plugins are also copied to target/builtin-plugins,
# which the host embeds (host/build.rs): so they are built first.

CARGO ?= cargo
WASM_TARGET := wasm32-wasip2
PLUGINS := default-router tier-router openai pii-redactor model-prices cost-margin anthropic gemini mock context-trim
TEST_PLUGINS := misbehave mock-override
WASM_OUT := target/$(WASM_TARGET)/plugin
BIN := target/release/switchyard
BUILTIN := target/builtin-plugins

# Every cargo command embeds the same plugins, so none of them rebuilds the
# host for another (the build script reruns when this or the folder changes).
export SWITCHYARD_BUILTIN_PLUGINS := $(CURDIR)/$(BUILTIN)

.PHONY: build host plugins builtin-plugins rust-plugins python-plugins js-plugins lang-bench-plugins test test-cases test-python run run-build lint setup clean-plugins

build: host plugins

# Built the way `cargo test --workspace` builds it, so the tests reuse every
# artifact (features unify across the workspace and its dev-dependencies;
# building the binary alone would compile wasmtime-wasi and friends twice).
host: builtin-plugins
	$(CARGO) test --release --workspace --no-run

plugins: rust-plugins python-plugins js-plugins

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

target/plugins/prompt-guard.wasm: $(wildcard plugins/prompt-guard/*.py) $(wildcard wit/*.wit) plugins/prompt-guard/build.sh sdk/python/template/switchyard_log.py
	bash plugins/prompt-guard/build.sh $@

# A test-only Python sanitiser that prints and raises (plugin output tests),
# with the template's switchyard_log.py.
target/test-plugins/noisy-py.wasm: tests/fixtures/noisy-py/app.py sdk/python/template/switchyard_log.py $(wildcard wit/*.wit)
	@mkdir -p target/test-plugins
	PYTHONDONTWRITEBYTECODE=1 componentize-py -d wit -w sanitizer-plugin componentize -p tests/fixtures/noisy-py -p sdk/python/template app -o $@

# JavaScript plugins: componentize-js from sdk/js/node_modules (`make setup`
# installs the versions sdk/js/package-lock.json pins).
COMPONENTIZE_JS := sdk/js/node_modules/.bin/componentize-js

js-plugins: target/plugins/js-tier-router.wasm target/test-plugins/throwing-js.wasm

target/plugins/js-tier-router.wasm: $(wildcard plugins/js-tier-router/*.js) $(wildcard wit/*.wit) plugins/js-tier-router/build.sh $(COMPONENTIZE_JS)
	bash plugins/js-tier-router/build.sh $@

# A test-only JavaScript sanitiser that throws (exceptions logged before the
# trap), with the template's switchyard.js. componentize-js sees only the
# current directory: paths relative to the repository root.
target/test-plugins/throwing-js.wasm: tests/fixtures/throwing-js/app.js sdk/js/template/switchyard.js $(wildcard wit/*.wit) $(COMPONENTIZE_JS)
	@mkdir -p target/test-plugins
	$(COMPONENTIZE_JS) --wit wit --world-name sanitizer-plugin --disable http fetch-event -o $@ tests/fixtures/throwing-js/app.js

$(COMPONENTIZE_JS): sdk/js/package.json sdk/js/package-lock.json
	cd sdk/js && npm ci --no-audit --no-fund
	@touch $@

# The router and sanitiser templates of `switchyard plugin new` in each
# language, built into target/test-plugins for the per-language call cost in
# host/benches/plugin_calls.rs (not part of `make test`).
LANG_BENCH := target/lang-bench
lang-bench-plugins: $(COMPONENTIZE_JS)
	@rm -rf $(LANG_BENCH) && mkdir -p target/test-plugins
	@for k in router sanitizer; do for l in rust python js; do \
		$(BIN) plugin new $$k bench-$$k-$$l --lang $$l --dir $(LANG_BENCH)/$$k-$$l --sdk sdk/rust >/dev/null || exit 1; \
	done; done
	@for k in router sanitizer; do \
		(cd $(LANG_BENCH)/$$k-rust && CARGO_TARGET_DIR=$(CURDIR)/$(LANG_BENCH)/cargo $(CARGO) build --quiet --release --target $(WASM_TARGET)) || exit 1; \
		cp $(LANG_BENCH)/cargo/$(WASM_TARGET)/release/bench_$${k}_rust.wasm target/test-plugins/bench-$$k-rust.wasm; \
		$(LANG_BENCH)/$$k-python/build.sh $(CURDIR)/target/test-plugins/bench-$$k-python.wasm || exit 1; \
		COMPONENTIZE_JS=$(CURDIR)/$(COMPONENTIZE_JS) $(LANG_BENCH)/$$k-js/build.sh $(CURDIR)/target/test-plugins/bench-$$k-js.wasm || exit 1; \
	done

# Installs what a fresh machine lacks (the wasm target, componentize-py, the
# Python test client, componentize-js). Idempotent.
setup:
	rustup target add $(WASM_TARGET)
	python3 -m pip install --quiet -r requirements-dev.txt
	$(MAKE) $(COMPONENTIZE_JS)

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
	@for p in $(PLUGINS) prompt-guard js-tier-router; do \
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
