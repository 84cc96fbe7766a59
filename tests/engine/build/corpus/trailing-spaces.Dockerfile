FROM busybox   
RUN echo a \   
  b	
CMD   echo   spaced   
