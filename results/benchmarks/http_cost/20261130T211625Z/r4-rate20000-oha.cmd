/root/.cargo/bin/oha -c 64 -z 8s -q 20000 --no-tui --output-format json http://127.0.0.1:18080/1k 
