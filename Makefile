# make book  -- create/reuse .venv, install pinned dependencies, execute the chapters, write _build/html
# make test  -- create/reuse .venv; unit tests; nbval over every chapter, here (MKL's conditional
#               numerical reproducibility mode unless MKL_CBWR is set) and in a simulated Colab
#               session on other CPU code paths (SSE-level instruction sets); the book rendered from its committed
#               outputs and checked for broken links, tracebacks, warnings and wide outputs, then
#               loaded in headless Chromium with the network off (skipped without chromium)
# make lint -- ruff: lint and format check of the package, tests, benchmarks and tools
# make refresh CHAPTER=book/0N_....ipynb -- re-execute a chapter in quick mode, writing the
#               outputs to commit into the notebook (CHAPTER unset: every chapter)
# make fashion-mnist -- the real-data CPU protocol of Chapters 4-6 (2-4 hours: measured with one
#               thread per run beside other work, 37-79 min per full seed, 4 min per dense-only
#               seed; resumes where it stopped): writes results/cpu/fashion-mnist-vgg16-w0.125-seed<k>/
# make fashion-mnist-long -- the early-bird protocol in the papers' regime (Fashion-MNIST, 60,000
#               images, 30 epochs): VGG-16/8 3 full seeds + 2 dense-only, PreResNet-20/2 5 dense-only;
#               writes results/cpu-long/ (resumes where it stopped)
# make bench -- run the benchmarks (print ratios measured in one run)
# make bench-gpu -- the CIFAR-sized GPU benchmarks (epoch times, inference speed-ups); writes results/timing
# make clean -- remove the build, caches and the virtual environment

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINTED := spline_utils tests benchmarks tools

.PHONY: book test lint refresh fashion-mnist fashion-mnist-long bench bench-gpu clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[book,test]"
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

test: lint
	$(BIN)/python tools/stamp_chapters.py --check
	MKL_CBWR=$${MKL_CBWR:-COMPATIBLE} $(BIN)/python -m pytest tests book --nbval-lax --nbval-sanitize-with book/nbval_sanitize.cfg -p no:cacheprovider
	$(BIN)/python tools/simulate_colab.py
	$(BIN)/python tools/build_book.py --from-outputs
	$(BIN)/python tools/check_html.py _build/html
	$(BIN)/python tools/check_browser.py _build/html

book: $(STAMP)
	$(BIN)/python tools/build_book.py
	@test -f _build/html/index.html && echo "book written to _build/html/index.html"

refresh: $(STAMP)
	$(BIN)/python tools/stamp_chapters.py
	for chapter in $(or $(CHAPTER),book/0*.ipynb); do \
		SPLINE_BOOK_MODE=quick SPLINE_BOOK_PROGRESS=text $(BIN)/jupyter execute --inplace $$chapter || exit 1; done

fashion-mnist: $(STAMP)
	for seed in 0 1 2; do \
		$(BIN)/python -m spline_utils.experiments run --mode cpu --seed $$seed --no-progress || exit 1; done
	for seed in 3 4; do \
		$(BIN)/python -m spline_utils.experiments run --mode cpu --seed $$seed --dense-only --no-progress || exit 1; done
	$(BIN)/python -m spline_utils.experiments trajectory results/cpu/fashion-mnist-*-seed*

LONG := $(BIN)/python -m spline_utils.experiments run --mode cpu-long --no-progress --threads 1

fashion-mnist-long: $(STAMP)
	for seed in 0 1 2 3 4; do $(LONG) --arch vgg16 --seed $$seed --dense-only || exit 1; done
	for seed in 0 1 2 3 4; do $(LONG) --arch preresnet20 --seed $$seed --dense-only || exit 1; done
	for seed in 0 1 2; do $(LONG) --arch vgg16 --seed $$seed || exit 1; done
	$(BIN)/python -m spline_utils.experiments trajectory results/cpu-long/fashion-mnist-*-seed*

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_codes.py
	$(BIN)/python benchmarks/bench_exact.py
	$(BIN)/python benchmarks/bench_pruning.py
	$(BIN)/python benchmarks/bench_early_bird.py

bench-gpu: $(STAMP)
	$(BIN)/python benchmarks/bench_cifar_timing.py --out results/timing
	$(BIN)/python benchmarks/bench_gpu_inference.py --out results/timing

clean:
	rm -rf _build .pytest_cache spline_pruning_book.egg-info $(VENV) .venv-colab
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
