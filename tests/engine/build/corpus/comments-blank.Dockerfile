# A comment before anything
# another comment

FROM busybox

# comment between instructions
RUN echo one \
    # a comment inside a continuation
    two \

    three

   # indented comment
  RUN echo indented
