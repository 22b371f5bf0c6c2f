# fish completion for qcow2dump
complete -c qcow2dump -s e -l extensions -d 'Show only the header extensions'
complete -c qcow2dump -s t -l bitmap-table -d "Also show each bitmap's table entries"
complete -c qcow2dump -s '?' -l help -d 'Show help and exit'
complete -c qcow2dump -l usage -d 'Show a short usage message and exit'
complete -c qcow2dump -s V -l version -d 'Show the version and exit'
complete -c qcow2dump -k -x -a '(__fish_complete_suffix .qcow2)'
