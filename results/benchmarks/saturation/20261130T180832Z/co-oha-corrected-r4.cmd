oha -q 200 -c 10 -z 10s --no-tui --output-format json --latency-correction http://127.0.0.1:18081/ 
