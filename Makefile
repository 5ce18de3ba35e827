# Shortcuts for the two commands in README.md (make is optional: the scripts need only Python).
.PHONY: course test site bench
course:
	python3 scripts/run_course.py
test:
	python3 scripts/run_tests.py
site:
	python3 scripts/build_site.py
bench:
	.venv/bin/python benchmarks/bench_pconv.py
	.venv/bin/python benchmarks/bench_training.py
	.venv/bin/python benchmarks/bench_input.py
